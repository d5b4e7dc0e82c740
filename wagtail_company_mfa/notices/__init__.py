"""Email: the notifications about a user's own MFA, and the policy notices and deadline reminders."""
