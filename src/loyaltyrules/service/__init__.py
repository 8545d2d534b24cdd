"""The local HTTP/JSON service (`loyaltyrules serve`); needs the `serve` extra.

`service.app.create_app(ServiceSettings(...))` builds the ASGI application. This
package file imports nothing, so `serve` can explain a missing extra itself.
"""
