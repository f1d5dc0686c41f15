"""The API's views, one class per operation, grouped by what they act on."""
