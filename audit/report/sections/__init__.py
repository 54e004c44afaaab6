"""The report's sections, one module each: a function from the typed run summary (and what
else the section shows) to a view of plain, already formatted values for the template.

====================  ===================================================================
module                section
====================  ===================================================================
``verdict``           the gates and what they add up to
``glance``            the key cards and the at-a-glance table per method
``baseline``          the key figures against a previous run
``data``              model and data: facts, classes, skipped samples
``accuracy``          overall and per-class accuracy, the confusion matrix
``localisation``      localisation scores per method, the centre baseline
``fixation``          background-fixation rates per method
``gallery``           misclassified samples with their maps
``slices``            the key figures per subgroup of samples, and which one is worst
``agreement``         how much the methods agree
``guide``             the settings the reading guide quotes
``provenance``        where the figures come from
====================  ===================================================================
"""
