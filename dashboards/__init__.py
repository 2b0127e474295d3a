"""Pages for doctors and families: templates, plotly figure builders, routes."""
