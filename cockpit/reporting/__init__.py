"""The walkthrough report and the playbook: one document model, Markdown and HTML renderers."""
