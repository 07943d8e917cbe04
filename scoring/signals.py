"""What scoring tells the others (the handoff work listens to it).

``leads_became_mql``: sent after the commit that moved leads to MQL because their score
reached the threshold. Arguments: lead_ids (list of ints), rule_set (the published RuleSet).
"""

from django.dispatch import Signal

leads_became_mql = Signal()
