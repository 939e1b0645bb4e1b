"""The one tiny design the measurement, results and bench tests share: quick to build, export and time."""

TINY = {
    "name": "tiny",
    "num_classes": 10,
    "input_size": 32,
    "stem_channels": 8,
    "last_conv": 32,
    "stages": [{"t": 1, "c": 8, "n": 2, "s": 1}, {"t": 4, "c": 16, "n": 2, "s": 2}],
}
