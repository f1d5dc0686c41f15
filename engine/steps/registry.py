"""The registry of step types, filled when Django starts."""


def autodiscover():
    """Import every installed app's `steps` module so that its step types register."""
