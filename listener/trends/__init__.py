"""Trend files for marketers: the hourly rollup in the store, the tables, the charts and the report.

`listener.trendfiles.write_trend_files` is the one function the pipeline and the daemon call.
"""
