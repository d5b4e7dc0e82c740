"""Companies: their MFA policy, who may administer them, their members, reports and resets."""
