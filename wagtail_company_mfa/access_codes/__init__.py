"""
One-time access codes and "set up again" (docs/admin-guide.md, "When someone loses their phone"): a company
administrator lets a person who lost every factor past the second factor once, straight into setting MFA up
again, or asks a person to set it up again at their next sign-in.
"""
