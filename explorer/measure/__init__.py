"""Latency measured on this host: one measurement service, its timing protocol and quality verdict.

Every caller (bench, the app's Measure button, the Classroom, calibration, search, the benchmarks) builds a
`MeasureJob` (job.py: designs, a `Target` from target.py, the declared options of the protocol) and runs it with
`MeasureRun` (service.py) in a fresh worker process (worker.py). Below that: the protocol itself (latency.py,
latency_ort.py, timing.py, layer_latency.py), the verdict (quality.py, probe.py), memory (memory.py), the host
lock (hostlock.py), host facts (hostinfo.py), the roofs (roofs.py), and the app's polled run (process.py).
"""
