"""How the pages show a Plotly chart: the config every st.plotly_chart call passes."""

# Without Plotly's logo in a chart's toolbar: it links to plotly.com, and the pages lead a class to no other site.
PLOTLY_CONFIG = {"displaylogo": False}
# Without the toolbar at all, for the Classify page's small charts and the grid of top images, which have nothing to
# zoom into or pan.
PLOTLY_CONFIG_NO_TOOLBAR = {**PLOTLY_CONFIG, "displayModeBar": False}
