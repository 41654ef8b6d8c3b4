"""ResMan -> DomIQ as it happens: apply a prospect, the webhook inbox, the change feed."""
