"""A document model (sections, paragraphs, tables, charts) and its Markdown and HTML renderers,
shared by the walkthrough report, the playbook and the features' report sections."""
