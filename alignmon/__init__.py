"""alignmon: is the software we bought for a strategy actually used?"""

__version__ = "0.1.0"
