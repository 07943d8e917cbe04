"""What the leads app tells the others. Sent inside the transaction that made the change, so a
receiver's writes commit or roll back with it."""

from django.dispatch import Signal

# Leads were created or changed, or activities were added to them.
# Arguments: lead_ids (a set of ints), reason (str, for the score history) and
# new_activities_after (an activity id: the activities added have greater ids; None when no
# activity was added).
leads_changed = Signal()
