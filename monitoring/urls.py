"""MONDAT's URL map under /mondat/ (namespace "mondat")."""
from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from monitoring.views import bulk, failures, sleeping, switches, transactions
from monitoring.views.dashboard import DashboardView
from monitoring.views.node_groups import NodeGroupListView
from monitoring.views import pipelines as pipeline_views
from monitoring.views import schedules as schedule_views
from monitoring.views import owners as owner_views
from monitoring.views import webhooks as webhook_views
from monitoring.views import transaction as transaction_views
from monitoring.views import transaction_actions as tx_actions
from monitoring.views import version_moves as move_views
from monitoring.views.rewind import TransactionRewindView

app_name = "mondat"

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="monitoring/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="mondat:login"), name="logout"),
    path("", DashboardView.as_view(), name="dashboard"),
    path("node-groups/", NodeGroupListView.as_view(), name="node-groups"),
    path("transactions/<str:tx_id>/", transaction_views.TransactionDetailView.as_view(), name="transaction"),
    path("transactions/<str:tx_id>/status", transaction_views.TransactionStatusView.as_view(),
         name="transaction-status"),
    path("transactions/<str:tx_id>/switch", tx_actions.TransactionSwitchView.as_view(), name="transaction-switch"),
    path("transactions/<str:tx_id>/wake", tx_actions.TransactionWakeView.as_view(), name="transaction-wake"),
    path("transactions/<str:tx_id>/cancel", tx_actions.TransactionCancelView.as_view(), name="transaction-cancel"),
    path("transactions/<str:tx_id>/retry", tx_actions.TransactionRetryView.as_view(), name="transaction-retry"),
    path("transactions/<str:tx_id>/deadline", tx_actions.TransactionDeadlineView.as_view(),
         name="transaction-deadline"),
    path("transactions/<str:tx_id>/rewind", TransactionRewindView.as_view(), name="transaction-rewind"),
    path("transactions/<str:tx_id>/webhooks/<uuid:delivery_id>/resend", tx_actions.TransactionWebhookResendView.as_view(),
         name="transaction-webhook-resend"),
    path("transactions/", transactions.TransactionListView.as_view(), name="transactions"),
    # The API's links.console is written without the slash: it leads here whatever the host's APPEND_SLASH.
    path("transactions/<str:tx_id>", RedirectView.as_view(pattern_name="mondat:transaction", query_string=True),
         name="transaction-link"),
    path("bulk/jobs/<int:job_id>/", bulk.BulkJobView.as_view(), name="bulk-job"),
    path("bulk/<str:action>/", bulk.BulkActionView.as_view(), name="bulk"),
    path("pipelines/", pipeline_views.PipelineListView.as_view(), name="pipelines"),
    path("pipelines/_load/", pipeline_views.PipelineLoadView.as_view(), name="pipeline_load"),
    path("pipelines/<str:name>/", pipeline_views.PipelineDetailView.as_view(), name="pipeline"),
    path("pipelines/<str:name>/move/", move_views.PipelineMoveView.as_view(), name="pipeline_move"),
    path("pipelines/<str:name>/versions/<str:version>.json", pipeline_views.PipelineVersionExportView.as_view(),
         name="pipeline_export"),
    path("pipelines/<str:name>/versions/<str:version>/use/", pipeline_views.PipelineUseVersionView.as_view(),
         name="pipeline_use_version"),
    path("schedules/", schedule_views.ScheduleListView.as_view(), name="schedules"),
    path("schedules/<str:name>/", schedule_views.ScheduleDetailView.as_view(), name="schedule"),
    path("schedules/<str:name>/pause", schedule_views.SchedulePauseView.as_view(), name="schedule-pause"),
    path("schedules/<str:name>/resume", schedule_views.ScheduleResumeView.as_view(), name="schedule-resume"),
    path("schedules/<str:name>/trigger", schedule_views.ScheduleTriggerView.as_view(), name="schedule-trigger"),
    path("sleeping/", sleeping.SleepingListView.as_view(), name="sleeping"),
    path("sleeping/<str:tx_id>/wake", sleeping.SleeperWakeView.as_view(), name="sleeping-wake"),
    path("switches/", switches.SwitchListView.as_view(), name="switches"),
    path("switches/global/", switches.GlobalSwitchSetView.as_view(), name="global-switch-set"),
    path("failures/", failures.FailureListView.as_view(), name="failures"),
    path("failures/<str:tx_id>/retry", failures.FailureRetryView.as_view(), name="failure-retry"),
    path("webhooks/", webhook_views.WebhookListView.as_view(), name="webhooks"),
    path("webhooks/resend-dead/", webhook_views.WebhookResendDeadView.as_view(), name="webhooks_resend_dead"),
    path("webhooks/<uuid:delivery_id>/resend/", webhook_views.WebhookResendView.as_view(), name="webhook_resend"),
    path("owners/", owner_views.OwnerSettingsView.as_view(), name="owners"),
    path("owners/<str:owner>/keys/", owner_views.ApiKeyCreateView.as_view(), name="api_key_create"),
    path("owners/<str:owner>/keys/<int:key_id>/revoke/", owner_views.ApiKeyRevokeView.as_view(),
         name="api_key_revoke"),
    path("owners/<str:owner>/secret/", owner_views.WebhookSecretView.as_view(), name="owner_secret"),
    path("owners/<str:owner>/secret/rotate/", owner_views.WebhookSecretRotateView.as_view(),
         name="owner_secret_rotate"),
]
