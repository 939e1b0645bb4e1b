"""Plain data in, plotly figures and tables out: charts, the network diagram, design comparison and the layer table.
No Streamlit here; explorer/ui renders what this package builds."""
