"""What the tests share: processes, test data, the simulator, the stacks, the databases.

Fixtures stay in the conftest files; everything else a test needs from outside its own
module comes from here.
"""
