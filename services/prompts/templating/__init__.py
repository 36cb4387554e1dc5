"""Templates: the default logic-less `{{variable}}` format (`mustache`) and sandboxed Jinja2
(`sandbox`), behind one interface (`formats`)."""
