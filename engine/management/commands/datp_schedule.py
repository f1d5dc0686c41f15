"""Schedules from the command line: datp_schedule list | show NAME | create NAME --type T (--cron C | --interval I)
[...] | pause NAME | resume NAME | trigger NAME | backfill NAME --start S --end E | delete NAME."""
import json

from django.core.management.base import BaseCommand, CommandError

from engine.errors import DatpError
from engine.management.commands._actions import command_actor
from engine.selectors.schedules import schedule_as_dict, schedule_get, schedule_list
from engine.services import schedules
from engine.states import ScheduleOverlap

OPTIONAL = ("timezone", "start_at", "end_at", "overlap", "catchup_window", "jitter", "description")


def _line(item):
    calendar = item["cron"] or item["interval"]
    state = "paused" if item["paused"] else f"next {item['next_due_at'] or '(none left)'}"
    return f"{item['name']}  [{item['owner']}]  {item['transaction_type']}  {calendar} {item['timezone']}  {state}"


class Command(BaseCommand):
    help = "List, show, create, pause, resume, trigger, backfill or delete schedules (docs/schedules.md)."

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="action", required=True)
        commands.add_parser("list", help="Every schedule, one line each.")
        for action, text in (("show", "A schedule with its next runs, last runs and journal, as JSON."),
                             ("delete", "Delete a schedule (its transactions stay)."),
                             ("pause", "Pause a schedule."), ("resume", "Resume a schedule from now."),
                             ("trigger", "Start a run now, under the schedule's overlap policy.")):
            command = commands.add_parser(action, help=text)
            command.add_argument("name")
            if action in ("pause", "resume", "trigger"):
                command.add_argument("--note", default="")
        create = commands.add_parser("create", help="Create a schedule.")
        create.add_argument("name")
        create.add_argument("--owner", required=True)
        create.add_argument("--type", required=True, dest="transaction_type", help="The transaction type to start.")
        calendar = create.add_mutually_exclusive_group(required=True)
        calendar.add_argument("--cron", help='A cron expression, e.g. "0 2 * * *".')
        calendar.add_argument("--interval", help="An ISO 8601 duration, e.g. PT15M.")
        create.add_argument("--data", default="{}", help="The transactions' data, a JSON object.")
        create.add_argument("--timezone", help="An IANA time zone (default UTC).")
        create.add_argument("--overlap", choices=ScheduleOverlap.values)
        for name in ("start_at", "end_at", "catchup_window", "jitter", "description"):
            create.add_argument(f"--{name.replace('_', '-')}", dest=name)
        create.add_argument("--paused", action="store_true")
        backfill = commands.add_parser("backfill", help="Start the runs of a past range that have none.")
        backfill.add_argument("name")
        backfill.add_argument("--start", required=True)
        backfill.add_argument("--end", required=True)
        backfill.add_argument("--overlap", choices=ScheduleOverlap.values, default=ScheduleOverlap.ALLOW)

    def handle(self, *args, action, **options):
        try:
            self.stdout.write(getattr(self, f"_{action}")(actor=command_actor(), **options))
        except DatpError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc

    def _list(self, **options):
        return "\n".join(_line(item) for item in schedule_list()) or "No schedules."

    def _show(self, *, name, **options):
        return json.dumps(schedule_as_dict(schedule_get(name=name), detail=True), indent=2)

    def _create(self, *, name, owner, transaction_type, cron, interval, data, paused, actor, **options):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise CommandError(f"--data is not JSON: {exc}") from exc
        fields = {key: options[key] for key in OPTIONAL if options.get(key) is not None}
        schedule = schedules.schedule_create(owner=owner, name=name, transaction_type=transaction_type, cron=cron,
                                             interval=interval, data=data, paused=paused, actor=actor, **fields)
        return _line(schedule_as_dict(schedule))

    def _pause(self, *, name, note, actor, **options):
        return _line(schedule_as_dict(schedules.schedule_pause(name=name, note=note, actor=actor)))

    def _resume(self, *, name, note, actor, **options):
        return _line(schedule_as_dict(schedules.schedule_resume(name=name, note=note, actor=actor)))

    def _trigger(self, *, name, note, actor, **options):
        answer = schedules.schedule_trigger(name=name, note=note, actor=actor)
        return f"{name} {answer['due_at']}: {answer['action']} {answer.get('tx_id') or answer.get('note', '')}"

    def _backfill(self, *, name, start, end, overlap, actor, **options):
        answer = schedules.schedule_backfill(name=name, start=start, end=end, overlap=overlap, actor=actor)
        counts = ", ".join(f"{answer[key]} {key}" for key in ("started", "existing", "skipped", "buffered", "failed"))
        return f"{name}: {answer['due_times']} due times from {start} to {end}: {counts}"

    def _delete(self, *, name, actor, **options):
        schedules.schedule_delete(name=name, actor=actor)
        return f"{name}: deleted"
