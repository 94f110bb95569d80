"""The Salesforce sandbox: REST, SOQL, Bulk API 2.0 and change data capture over Pub/Sub."""
