"""Prices: the default table from genai-prices, operators' versioned prices in SQL and YAML,
and the price book that picks the price in force for a call."""
