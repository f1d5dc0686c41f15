"""The dashboard: counts by status, starts and finishes per minute, sleepers, wake-ups, node groups and
the latest failures of the user's owners, from the figures the nodes keep; refreshed by htmx."""
from django.views.generic import TemplateView

from engine import clock
from engine.selectors.dashboard import dashboard_overview
from monitoring.charts import minute_chart
from monitoring.views.base import ConsoleMixin


class DashboardView(ConsoleMixin, TemplateView):
    template_name = "monitoring/dashboard.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        now = clock.now()
        overview = dashboard_overview(owners=self.scope.owners, now=now)
        context.update(overview, now=now, chart=minute_chart(overview["series"]))
        return context
