"""The Attendance panel's views: Today, Timesheet, History and Audit (one module each), and what they share."""
