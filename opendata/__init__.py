"""Open data: feed builders (GeoJSON, DATEX II, CDS) and the SensorThings push.

Everything here is built from booking's one availability function (`booking.live.now`) and
carries no personal data: no plates, no accounts, no booking codes or reservation ids.
"""
