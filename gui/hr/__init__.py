"""The HR tabs of the Attendance panel: groups, shifts, roster, holidays and leave, event import, month locks.

One module per tab; each changes data only through the Engine's operations (audited as the CLI's are) and
refreshes itself from the Engine's change notifications."""
