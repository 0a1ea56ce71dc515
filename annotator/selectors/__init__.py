"""Read-side queries, no writes: one module per thing a page or a job reads.

``access`` (who sees which project), ``progress`` (the batch, the budget, the job queues),
``dashboard`` (the owner's figures), ``annotator_figures`` (each annotator's votes and speed,
for the dashboard and the team page), ``classes`` (class names in index order),
``model_versions`` (what training starts from), ``evaluation_split`` (what the held-out test
split is or will be).
"""
