"""Local FreshBooks and Salesforce servers for the demo, the tests and fault drills."""
