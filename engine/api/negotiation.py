"""Content negotiation that always answers JSON: an `Accept: text/html` never earns an HTML page or a 406."""
from rest_framework.negotiation import DefaultContentNegotiation


class JsonAlways(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = renderers[0]
        return renderer, renderer.media_type
