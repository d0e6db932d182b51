"""Paper triage and reproduction tracker."""
