"""The report layer: presenting results to people.

The leaderboard model and its builder (:mod:`~jinavdr.report.leaderboard`), the regression gate
(:mod:`~jinavdr.report.compare`), the one number formatter (:mod:`~jinavdr.report.format`), the published
reference scores (:mod:`~jinavdr.report.references`), charts, and the renderers to markdown, HTML and
CSV (:mod:`jinavdr.report.render`). Nothing below this layer imports it.
"""
