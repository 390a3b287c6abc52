"""Reports over the cost model's estimate: `tables` writes the CSV, JSON and text summary."""
