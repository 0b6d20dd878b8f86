"""SPEC section 4 whole: keeping each order's status in step with the accrual system.

`client` asks the accrual system, `gate` keeps every worker within its limits, `checks`
runs one check and the sweep's claim, `tasks` are their Celery entry points, `queueing`
sends them, and `celery_app` with `redis_transport` is how they travel.
"""
