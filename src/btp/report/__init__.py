"""Reports: PNG plots and a self-contained HTML page for run directories."""
