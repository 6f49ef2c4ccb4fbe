from ninja import NinjaAPI

api = NinjaAPI(title="Mamori API", version="1", urls_namespace="api")
