"""Print an owner's webhook secret, or rotate it first with --rotate."""
from django.core.management.base import BaseCommand, CommandError

from engine.models import Owner
from engine.services.owners import owner_rotate_webhook_secret


class Command(BaseCommand):
    help = "Print (or --rotate and print) an owner's webhook signing secret."

    def add_arguments(self, parser):
        parser.add_argument("--owner", required=True)
        parser.add_argument("--rotate", action="store_true")

    def handle(self, *args, owner, rotate, **options):
        found = Owner.objects.filter(pk=owner).values_list("webhook_secret", flat=True).first()
        if found is None:
            raise CommandError(f"No owner named {owner!r}.")
        self.stdout.write(owner_rotate_webhook_secret(owner=owner) if rotate else found)
