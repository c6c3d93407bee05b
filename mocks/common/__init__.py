"""What every mock backend shares: its OpenAPI contract, validation, faults and the request log.

Import from the submodules (``mocks.common.app``, ``mocks.common.faults``, ...): the settings
import :mod:`mocks.common.faults` and should not pay for the web stack.
"""
