from django.apps import AppConfig


class PartnercenterConfig(AppConfig):
    name = "partnercenter"
