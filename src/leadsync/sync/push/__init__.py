"""DomIQ -> ResMan: push one lead job in three phases — plan (plan.py: read our database),
send (send.py: talk to ResMan, no transaction open), record (record.py: write our database).

Creates: duplicate check first (see dedupe.py). A person ResMan already has keeps ONE
prospect: the new conversation links to it with a "new chat" Contact event (returning.py);
else a create with the first-contact event, plus a duplicate_lead conflict when the phone
belongs to someone else.
Updates: ResMan's current state is fetched and three-way merged with the base snapshot, so
a field the office changed meanwhile is never silently overwritten: only the fields the
merge assigns to ResMan are posted, conflicts are resolved by the integration's rules or
parked for review, and office changes flow back to the conversation in the same step.
"""
