"""URLs in a message: extraction, normalization, unwrapping, QR codes; one package, one table."""

from service.urls.collect import MAX_URLS, UrlCollector, resolve
from service.urls.normalize import host_of, normalize
from service.urls.unwrap import Unwrapped, unwrap

__all__ = ["MAX_URLS", "Unwrapped", "UrlCollector", "host_of", "normalize", "resolve", "unwrap"]
