"""Local fakes of remote services, for tests."""
