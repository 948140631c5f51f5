# Databricks notebook source
import mlflow

mlflow.list_experiments()  # expect: MLF101
