"""Runs after the first one: spans of new data, the schema as a contract, drift, warm start, the model's history."""
