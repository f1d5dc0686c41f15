"""The size and shape limits of operator and client input: one home for each, no database here."""

# An operator's reason (API, console, admin): longer text is refused by the API and cut by the console.
REASON_MAX = 2000
# A switch value the console takes as text before it parses it.
SWITCH_TEXT_MAX = 2000

# Switch and callback names; owners the same but without ":" and shorter; pipeline names in lower case.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
OWNER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
PIPELINE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,99}$"
# A schedule name goes into its runs' external ids: schedule:<name>:<due time>.
SCHEDULE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
STEP_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$"

# Transactions started by one bulk start (POST /api/v1/transactions/batch, engine.client.start_many).
BULK_START_MAX = 1000
# The most transactions a version move's dry run lists (it counts them all, up to engine.services.version_moves'
# COUNT_CAP).
MOVE_PREVIEW_MAX = 500
