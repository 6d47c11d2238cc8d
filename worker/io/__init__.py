"""Reading and writing files: tables (CSV, XLSX), safe cells, output files, the terminal."""
