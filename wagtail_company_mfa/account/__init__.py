"""The Security tab of the account page, the dashboard reminder, and the user's own changes to their MFA."""
