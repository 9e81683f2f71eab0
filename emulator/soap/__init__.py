"""The SOAP adapter: spyne models (the schema), the lean codec, the WSDL writer, dispatch."""
