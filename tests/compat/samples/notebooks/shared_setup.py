# Databricks notebook source
import mlflow

mlflow.set_tracking_uri("databricks")
