"""Reading and writing files: one CSV/XLSX table reader (sheets) for plan tables and status
returns, plan exports, one formula guard for cells, workbooks within limits, output files and
text for the terminal."""
