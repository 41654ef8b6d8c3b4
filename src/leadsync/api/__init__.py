"""HTTP plumbing shared by every router: problem details, authentication, body limits."""
