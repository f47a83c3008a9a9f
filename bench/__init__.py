"""edgeline's benchmarks P1-P8, one module per row, and the int8 study."""
