"""The REST API of spec/api.md: Django REST framework views over the services and selectors."""
